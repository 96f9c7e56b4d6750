"""`python -m tests.containers` (make container-test): see run.py."""

from .run import main

raise SystemExit(main())
