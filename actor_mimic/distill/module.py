"""The Actor-Mimic Network as a LightningModule: one network, 18 outputs, many games.

A batch (from `actor_mimic.datasets.make_loader` over a mixture of games) holds, per sample:
frames uint8 (B, 4, 84, 84); q_values float32 (B, 18), the expert's outputs scattered onto the
ALE actions (Q-values, or a policy-gradient teacher's logits: `GameTask.outputs`);
action_mask bool (B, 18), the game's valid actions; hidden float32 (B, H), the expert's hidden
activations zero-padded to the largest expert; game_id int64 (B,).

The AMN is a real `NatureDQN` (the paper's 8-game AMN) or `MultitaskAMN` (the larger transfer
AMN) from `actor_mimic.common.networks`, always with 18 outputs; per game its policy is the
softmax over that game's valid actions (losses.py). Feature regression adds one transform f_i
per game from the AMN's hidden layer to that game's expert hidden layer: a linear map (the
paper's) or the identity (when the sizes agree). With beta = 0 no transform is built and the
run is the paper's AMN-policy variant.

Teachers of both kinds mix in one fit: the policy target of a sample is softmax(Q_E / tau) for a
Q-value teacher (the paper's Boltzmann policy) and softmax(logits_E / logit_tau) for a logit
teacher (logit_tau = 1, the default, is the teacher's own policy); each game's temperature is
chosen by its teacher's kind, and the KL and agreement metrics use the same targets.

Optimiser defaults. The paper's optimiser is Adam-like with lr 0.00025 and beta1 = beta2 = 0.95,
with 0.01 added inside the square root and a constant in place of bias correction, on a loss
*summed* over 8 samples per game. We use torch's Adam with the same lr and betas, a loss
*averaged* over the batch, and the usual small epsilon. Adam normalises the gradient by its
running RMS, so averaging instead of summing only rescales the gradient, which Adam's update
cancels; the paper's large epsilon (0.1 effective at small second moments) would not cancel,
because the averaged gradient is ~B times smaller, and would throttle learning: hence 1e-8.
"""

from __future__ import annotations

from typing import cast

import pytorch_lightning as pl
import torch
from torch import nn
from torchmetrics import MeanMetric

from actor_mimic.common.atari import NUM_ALE_ACTIONS
from actor_mimic.common.limits import check_real
from actor_mimic.common.networks import build_network
from actor_mimic.distill import losses
from actor_mimic.distill.tasks import Tasks
from actor_mimic.errors import UserError

METRICS = ("policy_loss", "feature_loss", "kl", "agreement")
FEATURE_TRANSFORMS = ("linear", "identity")


class ActorMimic(pl.LightningModule):
    """Trains an AMN to mimic one expert per game from teacher-store batches.

    tasks: the `Tasks` of `actor_mimic.distill.tasks.describe_tasks` (games, action sets, expert
        hidden sizes, Atari settings, store provenance), or their `Tasks.to_dict` form (as a
        checkpoint keeps them). Under `amn distill` they are filled in from the data section;
        they are saved with the checkpoint (as a dict), so a resume needs no stores.
    architecture: "nature_dqn" or "multitask_amn".
    hidden_layer: the AMN layer whose activations are regressed onto the experts' ("fc").
    tau: temperature of a Q-value expert's Boltzmann policy softmax(Q_E / tau).
    logit_tau: temperature of a logit teacher's policy softmax(logits_E / logit_tau); 1 is the
        teacher's own policy.
    beta: weight of feature regression (0: policy regression only, "AMN-policy").
    feature_transform: "linear" (the paper's f_i) or "identity".
    channels_last: keep the convolutions' weights and inputs in channels-last memory format
        (NHWC), which GPU convolution kernels (cuDNN's tensor-core paths) prefer. Off by
        default: other kernels may round differently.
    compile: a `torch.compile` backend for the AMN ("inductor" on a GPU), or None (eager).
        The first steps pay for the compilation (minutes on a small CPU); the weights' names,
        the checkpoints and the export are those of the eager network.
    """

    def __init__(
        self,
        tasks: Tasks | dict | None = None,
        architecture: str = "nature_dqn",
        hidden_layer: str = "fc",
        tau: float = 1.0,
        logit_tau: float = 1.0,
        beta: float = 0.01,
        feature_transform: str = "linear",
        lr: float = 2.5e-4,
        adam_betas: tuple[float, float] = (0.95, 0.95),
        adam_eps: float = 1e-8,
        channels_last: bool = False,
        compile: str | None = None,
    ):
        super().__init__()
        if tasks is None:
            raise UserError("the model needs its tasks: give data.games (amn distill links them)")
        if check_real(tau, "model.tau") <= 0:
            raise UserError(f"tau must be positive, got {tau}")
        if check_real(logit_tau, "model.logit_tau") <= 0:
            raise UserError(f"logit_tau must be positive, got {logit_tau}")
        check_real(beta, "model.beta", low=0.0)
        if check_real(lr, "model.lr") <= 0 or check_real(adam_eps, "model.adam_eps") <= 0:
            raise UserError(f"model.lr and model.adam_eps must be positive, got {lr} and {adam_eps}")
        if len(adam_betas) != 2:
            raise UserError(f"model.adam_betas must be two numbers, got {adam_betas}")
        for value in adam_betas:
            check_real(value, "model.adam_betas", 0.0, 1.0, high_open=True)
        if isinstance(tasks, dict) and isinstance(tasks.get("games"), list) and tasks["games"]:
            tasks = Tasks.from_dict(tasks)  # a checkpoint's form
        if not isinstance(tasks, Tasks) or not tasks.games:
            raise UserError("model.tasks must describe the games (amn distill links them from data.games)")
        if feature_transform not in FEATURE_TRANSFORMS:
            raise UserError(f"feature_transform must be one of {FEATURE_TRANSFORMS}, got {feature_transform!r}")
        check_compile_backend(compile)
        self.save_hyperparameters()  # read back by key: Lightning types `hparams` as a MutableMapping
        # The checkpoint keeps plain data, which loads with weights_only=True.
        self.hparams["tasks"] = tasks.to_dict()
        self.tasks = tasks
        self.games: list[str] = tasks.names
        preprocessing = tasks.preprocessing
        self.amn = build_network(
            architecture,
            NUM_ALE_ACTIONS,
            in_channels=preprocessing.get("stack_size", 4),
            screen_size=preprocessing.get("screen_size", 84),
        )
        if hidden_layer not in self.amn.hidden_layers:
            raise UserError(
                f"{architecture} has no hidden layer {hidden_layer!r}: choose one of {self.amn.hidden_layers}"
            )
        self.max_hidden = max(task.hidden_size for task in tasks.games)
        # Each game's temperature, by its teacher's kind; one number when every game shares it.
        taus = [float(logit_tau if task.outputs == "logits" else tau) for task in tasks.games]
        self.game_taus = torch.tensor(taus) if len(set(taus)) > 1 else None
        self.tau = taus[0]
        self.transforms = self._build_transforms(tasks) if beta > 0 else None
        self.metrics = nn.ModuleDict(
            {
                f"{stage}_{game}_{name}": MeanMetric()
                for stage in ("val", "test")
                for game in self.games
                for name in METRICS
            }
        )

    def _build_transforms(self, tasks: Tasks) -> nn.ModuleDict:
        """f_i per game: AMN hidden (H_amn) -> that game's expert hidden (H_i)."""
        amn_size = self.amn.hidden_size(self.hparams["hidden_layer"])
        transforms: dict[str, nn.Module] = {}
        for task in tasks.games:
            game, expert_size = task.game, task.hidden_size
            if self.hparams["feature_transform"] == "identity":
                if expert_size != amn_size:
                    raise UserError(
                        f"feature_transform identity needs equal hidden sizes, but the AMN's "
                        f"{self.hparams['hidden_layer']} has {amn_size} units and {game}'s expert {expert_size}: "
                        "use linear"
                    )
                transforms[game] = nn.Identity()
            else:
                transforms[game] = nn.Linear(amn_size, expert_size)
        return nn.ModuleDict(transforms)

    def configure_model(self) -> None:
        """Lightning calls this once the module is on its device, before the optimiser."""
        if self.hparams.get("channels_last"):
            self.amn.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stubs omit it
        if self.hparams.get("compile"):
            self.amn.compile(backend=self.hparams["compile"])  # in place: the state dict keeps its names

    # ----------------------------------------------------------------------------- forward
    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, 18) AMN outputs for uint8 frames (B, 4, 84, 84)."""
        return self.amn(self._input(frames))

    def _input(self, frames: torch.Tensor) -> torch.Tensor:
        if self.hparams.get("channels_last"):
            return frames.contiguous(memory_format=torch.channels_last)
        return frames

    def predicted_hidden(self, hidden: torch.Tensor, game_id: torch.Tensor) -> torch.Tensor:
        """(B, H_max): f_i(h_AMN) for each sample's game i, zero-padded like the expert targets.

        Every game's transform runs on its own samples, even when there are none in this batch
        (an empty matmul), so every parameter is in the graph each step, as DDP requires.
        """
        if self.transforms is None:
            raise RuntimeError("predicted_hidden needs the feature transforms, which exist only when beta > 0")
        predicted = hidden.new_zeros(hidden.shape[0], self.max_hidden)
        for index, game in enumerate(self.games):
            rows = (game_id == index).nonzero(as_tuple=True)[0]
            out = self.transforms[game](hidden.index_select(0, rows)).to(predicted.dtype)  # bf16 under autocast
            predicted = predicted.index_put((rows,), nn.functional.pad(out, (0, self.max_hidden - out.shape[1])))
        return predicted

    def per_sample_terms(self, batch: dict) -> dict[str, torch.Tensor]:
        """Each term of the objective and each metric, one value per sample (B,)."""
        logits, hidden = self.amn(self._input(batch["frames"]), hidden_layer=self.hparams["hidden_layer"])
        # The losses in float32 whatever the layers ran in (bf16-mixed autocast); no-ops in float32.
        logits, hidden = logits.float(), hidden.float()
        q_values, mask, tau = batch["q_values"], batch["action_mask"], self.sample_tau(batch["game_id"])
        terms = {
            "policy_loss": losses.policy_regression_loss(logits, q_values, mask, tau),
            "kl": losses.kl_expert_amn(logits.detach(), q_values, mask, tau),
            "agreement": losses.greedy_agreement(logits.detach(), q_values, mask),
        }
        if self.transforms is not None:
            predicted = self.predicted_hidden(hidden, batch["game_id"])
            terms["feature_loss"] = losses.feature_regression_loss(predicted, self._padded_targets(batch["hidden"]))
            terms["loss"] = losses.actor_mimic_loss(terms["policy_loss"], terms["feature_loss"], self.hparams["beta"])
        else:
            terms["loss"] = terms["policy_loss"]
        return terms

    def sample_tau(self, game_id: torch.Tensor) -> float | torch.Tensor:
        """The temperature of each sample's teacher: one number, or (B, 1) when games differ."""
        if self.game_taus is None:
            return self.tau
        return self.game_taus.to(game_id.device)[game_id].unsqueeze(1)

    def _padded_targets(self, hidden: torch.Tensor) -> torch.Tensor:
        """(B, H_max): expert activations zero-padded to the widest expert of the tasks (a
        loader over a subset of the games pads only to the widest expert it holds)."""
        width = hidden.shape[1]
        if width >= self.max_hidden:
            return hidden[:, : self.max_hidden]
        return nn.functional.pad(hidden, (0, self.max_hidden - width))

    # ---------------------------------------------------------------------------- training
    def training_step(self, batch: dict, batch_index: int) -> torch.Tensor:
        terms = self.per_sample_terms(batch)
        loss = terms["loss"].mean()
        size = batch["frames"].shape[0]
        self.log("train/loss", loss, prog_bar=True, batch_size=size)
        for name in METRICS:
            if name in terms:
                self.log(f"train/{name}", terms[name].mean(), on_step=False, on_epoch=True, batch_size=size)
        return loss

    def validation_step(self, batch: dict, batch_index: int) -> None:
        self._evaluation_step("val", batch)

    def test_step(self, batch: dict, batch_index: int) -> None:
        self._evaluation_step("test", batch)

    def _evaluation_step(self, stage: str, batch: dict) -> None:
        """Accumulate every metric per game; logged as e.g. val/pong/kl at the epoch's end."""
        with torch.no_grad():
            terms = self.per_sample_terms(batch)
        game_id = batch["game_id"]
        for index, game in enumerate(self.games):
            rows = game_id == index
            for name in METRICS:
                if name in terms:  # updated even with no rows, so every rank computes alike
                    self._metric(stage, game, name).update(terms[name][rows])

    def _metric(self, stage: str, game: str, name: str) -> MeanMetric:
        # nn.ModuleDict types its items as plain Modules; every one here is a MeanMetric.
        return cast(MeanMetric, self.metrics[f"{stage}_{game}_{name}"])

    def on_validation_epoch_end(self) -> None:
        self._log_epoch_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch_metrics("test")

    def _log_epoch_metrics(self, stage: str) -> None:
        """Per-game means, and their plain average over games (every game counts the same)."""
        for name in METRICS:
            if name == "feature_loss" and self.transforms is None:
                continue
            per_game = []
            for game in self.games:
                metric = self._metric(stage, game, name)
                # compute() gathers across DDP ranks, so every rank calls it for every game.
                value = metric.compute() if metric.update_count else torch.tensor(float("nan"))
                metric.reset()
                if torch.isnan(value):  # no sample of this game in this stage
                    continue
                per_game.append(value)
                self.log(f"{stage}/{game}/{name}", value, sync_dist=False)
            if per_game:
                self.log(f"{stage}/{name}", torch.stack(per_game).mean(), prog_bar=name == "kl")

    def configure_optimizers(self):
        return torch.optim.Adam(
            self.parameters(),
            lr=self.hparams["lr"],
            betas=tuple(self.hparams["adam_betas"]),
            eps=self.hparams["adam_eps"],
        )


def check_compile_backend(backend: str | None) -> None:
    """model.compile names a backend torch.compile knows, or is None."""
    if backend is None:
        return
    import torch._dynamo

    known = torch._dynamo.list_backends(exclude_tags=())
    if backend not in known:
        raise UserError(f"model.compile {backend!r} is not a torch.compile backend: use inductor (or one of "
                        f"{', '.join(b for b in known if '_' not in b)}), or leave it unset")  # fmt: skip
