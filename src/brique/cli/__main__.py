from brique.cli.main import main

main()
