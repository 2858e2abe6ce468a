import sys

from jaxmix.cli.main import main

sys.exit(main())
