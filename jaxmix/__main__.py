import sys

from jaxmix._cli import main

sys.exit(main())
