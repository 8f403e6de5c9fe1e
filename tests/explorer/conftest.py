import numpy as np
import pytest
from astropy.table import QTable


@pytest.fixture(scope="package")
def tiny_model():
    """An untrained tiny model (24x24 cutouts) with crudely fitted heads: quick to run."""
    import torch

    from minuet import Minuet
    from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
    from minuet.posterior import PosteriorConfig

    torch.manual_seed(3)
    config = DiffusionAutoencoderConfig.preset("tiny", image_size=24)
    model = Minuet(DiffusionAutoencoder(config), name="tiny-explorer")
    rng = np.random.default_rng(3)
    z = rng.normal(size=(200, 5))
    truth = QTable({"redshift": 0.3 + 0.1 * np.tanh(z[:, 0]),
                    "round": z[:, 1] > 0, "merger": z[:, 2] > 1})
    posterior = PosteriorConfig(transforms=1, hidden_features=(8,), max_epochs=2)
    return model.fit_heads(z, truth, posterior_config=posterior)


@pytest.fixture
def latent_table():
    """300 galaxies with latents, ids, sky positions, a redshift and two refused rows."""
    rng = np.random.default_rng(7)
    z = rng.normal(size=(300, 5)).astype(np.float32)
    z[[5, 77]] = np.nan
    table = QTable()
    table["id"] = np.arange(1000, 1300)
    for i in range(5):
        table[f"latent_{i}"] = z[:, i]
    table["ra"] = rng.uniform(150, 151, 300)
    table["dec"] = rng.uniform(2, 3, 300)
    table["redshift"] = rng.uniform(0.01, 0.8, 300)
    table["flag"] = ["ok"] * 300
    table.meta["model"] = "tiny-explorer"
    return table
