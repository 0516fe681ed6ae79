import sys

from mmdvae.cli import main

sys.exit(main())
