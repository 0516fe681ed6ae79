"""One registry of the models: name -> class, defaults and the arguments that apply.

The command line, the benchmarks and the test harness all build models from
here, so none keeps its own list. An entry's ``defaults`` are the settings it
starts from (a user may change them); its ``fixed`` settings define the entry
(``vimae-l`` is VIMAE with the logistic prior of the normal's variance) and may
not be changed.

Example:

```python
entry = registry.get("vimae-l")
model = entry.build(latent_dim=8, lambda_=10.0)  # VIMAE(prior="logistic_unit_variance")
entry.arguments                                       # the arguments it accepts
```
"""

import dataclasses
import inspect

from mmdvae import checks
from mmdvae.models.aae import AAE
from mmdvae.models.base import Autoencoder
from mmdvae.models.elbo_vae import ELBOVAE
from mmdvae.models.info_vae import InfoVAE
from mmdvae.models.mmd_vae import MMDVAE
from mmdvae.models.mutual_ae import MutualAE
from mmdvae.models.vimae import VIMAE


def _constructor_arguments(model_class) -> tuple:
    names = []
    for klass in model_class.__mro__:
        if not issubclass(klass, Autoencoder):
            break
        for name, parameter in inspect.signature(klass.__init__).parameters.items():
            if parameter.kind is parameter.VAR_KEYWORD or name in ("self", "latent_dim"):
                continue
            if name not in names:
                names.append(name)
    if len(model_class.encoder_types) == 1:
        names.remove("encoder_type")
    return tuple(names)


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """A named model: its class, the settings it starts from and those it fixes."""

    name: str
    model_class: type
    summary: str
    defaults: dict = dataclasses.field(default_factory=dict)
    fixed: dict = dataclasses.field(default_factory=dict)

    @property
    def arguments(self) -> tuple:
        """Constructor arguments a user may set (``latent_dim`` aside)."""
        return tuple(name for name in _constructor_arguments(self.model_class)
                     if name not in self.fixed)

    def check_arguments(self, arguments: dict) -> None:
        """Raises a ValueError naming any argument that does not apply."""
        for name in arguments:
            if name in self.fixed:
                raise ValueError(
                    f"Argument `{name}` does not apply to the model {self.name!r}, which "
                    f"fixes {name}={self.fixed[name]!r}; received {name}={arguments[name]!r}."
                )
            if name not in self.arguments:
                raise ValueError(
                    f"Argument `{name}` does not apply to the model {self.name!r} "
                    f"({self.model_class.__name__}); received {name}={arguments[name]!r}. "
                    f"It takes: {', '.join(self.arguments)}."
                )

    def build(self, latent_dim: int, **arguments):
        """The model with ``defaults``, then ``arguments``, then ``fixed`` applied."""
        self.check_arguments(arguments)
        return self.model_class(latent_dim, **{**self.defaults, **arguments, **self.fixed})


MODELS = {
    entry.name: entry
    for entry in (
        ModelEntry("mmd", MMDVAE, "MMD-VAE of the InfoVAE tutorial (alpha = 1, MMD)"),
        ModelEntry("elbo", ELBOVAE, "ELBO VAE; beta-VAE with beta != 1"),
        ModelEntry(
            "infovae", InfoVAE,
            "InfoVAE, alpha = 0.5, lambda = 100, Gaussian encoder, Bernoulli likelihood",
            defaults={"alpha": 0.5, "lambda_": 100.0, "encoder_type": "gaussian",
                      "likelihood": "bernoulli"},
        ),
        ModelEntry("aae", AAE, "adversarial autoencoder (two optimizers)"),
        ModelEntry("vimae-n", VIMAE, "VIMAE with the normal prior",
                   fixed={"prior": "normal"}),
        ModelEntry("vimae-l", VIMAE, "VIMAE with the logistic prior of the normal's variance "
                   "(less entropy than the normal, the paper's premise)",
                   fixed={"prior": "logistic_unit_variance"}),
        ModelEntry("mutual", MutualAE, "Mutual Autoencoder, I(z, x) = 1 nat"),
    )
}


def get(name: str) -> ModelEntry:
    """The registry entry named ``name``."""
    checks.check_choice("model", name, tuple(MODELS))
    return MODELS[name]
