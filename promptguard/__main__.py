from promptguard.cli import main

main()
