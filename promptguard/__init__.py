"""promptguard: review the token and cost impact of prompt changes in every pull request."""

__version__ = "0.1.0"
