from pbfidelity.cli import main

raise SystemExit(main())
