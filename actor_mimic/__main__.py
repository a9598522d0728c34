from actor_mimic.cli import main

raise SystemExit(main())
