from actor_mimic.cli import entry_point

raise SystemExit(entry_point())
