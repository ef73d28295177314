from nextoffer.cli import main

main()
