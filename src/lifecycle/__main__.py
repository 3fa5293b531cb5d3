"""``python -m lifecycle``: the front door that answers a repeated ``status`` from its cache,
else the full CLI (:mod:`lifecycle._fast`)."""

from lifecycle._fast import main

main()
