"""`python -m dialsum ...` = the `dialsum` command."""
from dialsum.cli import main

main()
