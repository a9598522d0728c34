"""Training the Actor-Mimic Network offline from teacher stores (see README.md here).

    from actor_mimic.distill.losses import policy_regression_loss, feature_regression_loss
    from actor_mimic.distill.module import ActorMimic            # the LightningModule
    from actor_mimic.distill.data import TeacherDataModule       # the multitask mixture
    from actor_mimic.distill.export import export_amn, ExportAMN # the shared AMN checkpoint

Nothing is imported here, so `import actor_mimic.distill` does not pull in Lightning.
"""
