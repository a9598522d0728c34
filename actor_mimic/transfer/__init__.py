"""DQN learning: experts from scratch, and transfer from an Actor-Mimic Network.

Read in this order:

    config.py          DQNConfig and the "paper" / "cheap" presets, the epsilon schedule
    replay.py          ReplayMemory: frames stored once, stacks rebuilt, n-step sampling
    losses.py          the TD objective (Huber, Double DQN, masked to the game's actions)
    initialisation.py  fresh networks, and networks initialised from an AMN checkpoint
    learner.py         DQNLearner: the acting / learning / evaluating / checkpointing loop
    run_state.py       atomic, pickle-free learner checkpoints and exact resume
    logs.py            CSV + TensorBoard logs
    export.py          a trained learner -> a shared "expert" checkpoint
    cli.py             `amn train-dqn`
    experiment.py, experiment_cli.py   `amn transfer`: random-init vs AMN-init
"""
