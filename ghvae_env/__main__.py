import sys

from ghvae_env.cli import main

sys.exit(main())
