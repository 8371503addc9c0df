from dexpy.cli import main

raise SystemExit(main())
