"""`amn diagnose`: why a student (an AMN, a DQN) fails where it fails (cli.py).

cli.py           the command and its actions play, lookup, dqn; options.py their options
on_policy.py     play: the student plays, the experts label (play.py), the report
                 (report.py), the plots (plots.py) and the strips before lost lives (strips.py)
labels.py        both policies on the same states: probabilities, agreement, KL
store_lookup.py  lookup: are the kept states in the teacher stores, and how often
dqn_start.py     dqn: a DQN run's first updates replayed, its Q-values recorded
"""
