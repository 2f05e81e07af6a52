"""vrnfast.compat.monai.RandAffined inside a real MONAI pipeline, against MONAI's own Affined given
the same affine: images equal to interpolation tolerance, labels equal."""
import numpy as np
import pytest
import torch

from vrnfast.data import random_smooth
from vrnfast.compat.monai import RandAffined, affine_to_matrix, apply_affine

monai = pytest.importorskip("monai", reason="MONAI is not installed (it is in the test extra)")
from monai.transforms import Affined, Compose  # noqa: E402


def _sample(shape=(20, 24, 28), channels=1, seed=1):
    image = np.stack([random_smooth(shape, sigma=2.0, seed=seed + c) for c in range(channels)]).astype(np.float32)
    return {"image": image, "label": (image[:1] > 0.1).astype(np.uint8)}


@pytest.mark.parametrize("shape, channels", [((20, 24, 28), 1), ((17, 31, 12), 3)])
def test_equals_monai_affined_given_the_same_affine(shape, channels):
    sample = _sample(shape, channels)
    aug = RandAffined(keys=("image", "label"), mode=("bilinear", "nearest"), prob=1.0, rotate_range=(0.4, 0.2, 0.5),
                      translate_range=(3, 2, 4), scale_range=0.15, seed=7)
    ours = aug(sample)
    assert aug.last_affine is not None and not np.allclose(aug.last_affine, np.eye(4))
    theirs = Affined(keys=("image", "label"), affine=aug.last_affine, mode=("bilinear", "nearest"),
                     padding_mode="zeros")(sample)
    assert ours["image"].dtype == np.float32 and ours["label"].dtype == np.uint8
    np.testing.assert_allclose(ours["image"], np.asarray(theirs["image"]), atol=1e-4, rtol=0)
    labels = np.asarray(theirs["label"]).astype(np.uint8)
    assert (ours["label"] != labels).mean() < 1e-4  # equal but at exact ties of the rounding
    assert ours["label"].any() and not np.array_equal(ours["label"], sample["label"])


def test_inside_compose_and_a_dataloader_seeded_and_reproducible():
    """Seeded by its own `seed` (MONAI's Compose.set_random_state seeds only subclasses of MONAI's
    Randomizable; MONAI's DataLoader workers reseed anything with set_random_state)."""
    data = [_sample(seed=s) for s in range(4)]

    def pipeline():
        return Compose([RandAffined(keys=("image", "label"), mode=("bilinear", "nearest"), prob=0.8,
                                    rotate_range=0.3, scale_range=0.1, seed=11)])

    ds = monai.data.Dataset(data, transform=pipeline())
    first = [b for b in torch.utils.data.DataLoader(ds, batch_size=2, num_workers=0)]
    ds2 = monai.data.Dataset(data, transform=pipeline())
    second = [b for b in torch.utils.data.DataLoader(ds2, batch_size=2, num_workers=0)]
    moved = 0
    for a, b, raw in zip(first, second, [data[:2], data[2:]]):
        assert a["image"].shape == (2, 1, 20, 24, 28)
        moved += not np.allclose(np.asarray(a["image"]), np.stack([r["image"] for r in raw]))
        torch.testing.assert_close(torch.as_tensor(a["image"]), torch.as_tensor(b["image"]))
        torch.testing.assert_close(torch.as_tensor(a["label"]), torch.as_tensor(b["label"]))
    assert moved  # the augmentation did run


def test_prob_zero_passes_through_and_arguments_are_checked():
    sample = _sample()
    out = RandAffined(keys="image", prob=0.0, rotate_range=1.0, seed=0)(sample)
    assert out["image"] is sample["image"]
    with pytest.raises(ValueError, match="mode must be one of"):
        RandAffined(keys=("image", "label"), mode=("bilinear",))
    with pytest.raises(ValueError, match="rotate_range must be one non-negative number or three"):
        RandAffined(keys="image", rotate_range=(1, 2))
    with pytest.raises(ValueError, match="prob must be in"):
        RandAffined(keys="image", prob=2)
    with pytest.raises(KeyError, match="key 'mask' is not in the sample"):
        RandAffined(keys="mask", prob=1.0)(sample)
    assert "mask" not in RandAffined(keys="mask", prob=1.0, allow_missing_keys=True)(sample)
    with pytest.raises(ValueError, match=r"volume must be \(C, D, H, W\)"):
        apply_affine(np.zeros((4, 4, 4), np.float32), np.eye(4), name="volume")


def test_the_identity_affine_is_the_identity_and_tensors_stay_tensors():
    sample = _sample()
    x = torch.from_numpy(sample["image"])
    out = apply_affine(x, np.eye(4), "bilinear")
    assert isinstance(out, torch.Tensor)
    torch.testing.assert_close(out, x)
    np.testing.assert_allclose(affine_to_matrix(np.eye(4), (5, 6, 7)), np.eye(3, 4))
