"""DQN learning: experts from scratch, and transfer from an Actor-Mimic Network.

Read in this order:

    config.py          DQNConfig and the "paper" / "cheap" presets, the epsilon schedule
    replay.py          ReplayMemory: frames stored once, stacks rebuilt, n-step sampling
    losses.py          the TD objective (Huber, Double DQN, masked to the game's actions)
    initialisation.py  fresh networks, and networks initialised from an AMN checkpoint
    acting.py          Actor: epsilon-greedy actions, vector env steps written to the replay memory
    learning.py        QLearning: online and target networks, optimiser, one update per minibatch
    reporting.py       TrainingReport, Evaluations: episode and training logs, progress bar, scores
    run_state.py       Checkpointer: atomic, pickle-free learner checkpoints and exact resume
    learner.py         DQNLearner: the parts above and the loop that runs them
    logs.py            CSV + TensorBoard logs
    export.py          a trained learner -> a shared "expert" checkpoint
    train_dqn_cli.py   `amn train-dqn`
    experiment.py, transfer_cli.py   `amn transfer`: random-init vs AMN-init
"""
