from automap_nb.orchestration.cli import main

raise SystemExit(main())
