from dllint.entry import main

main()
