from dllint.cli import main

main(prog_name="dllint")
