"""The fast spline inverse of the context flow against zuko's own inverse."""

import pytest
import torch
from zuko.transforms import MonotonicRQSTransform

from minuet.posterior._flow import ContextSplineFlow, _rqs_inverse


@pytest.mark.parametrize("bound", [5.0, 2.0])
def test_spline_inverse_equals_zukos(bound):
    generator = torch.Generator().manual_seed(0)
    n, features, bins, samples = 7, 3, 8, 50
    widths = 2 * torch.randn(n, features, bins, generator=generator, dtype=torch.float64)
    heights = 2 * torch.randn(n, features, bins, generator=generator, dtype=torch.float64)
    derivatives = 2 * torch.randn(n, features, bins - 1, generator=generator,
                                  dtype=torch.float64)
    # inside the spline's interval and beyond it, where both are the identity
    y = 1.6 * bound * (2 * torch.rand(n, features, samples, generator=generator,
                                      dtype=torch.float64) - 1)
    fast = _rqs_inverse(y, widths, heights, derivatives, bound)
    spline = MonotonicRQSTransform(widths[:, :, None], heights[:, :, None],
                                   derivatives[:, :, None], bound=bound)
    reference = spline.inv(y)
    assert (y.abs() > bound).any()
    assert (y.abs() < bound).any()
    torch.testing.assert_close(fast, reference, rtol=1e-9, atol=1e-9)


def test_flow_inverse_equals_zukos_composed_inverse():
    torch.manual_seed(1)
    flow = ContextSplineFlow(2, 4, transforms=3, hidden_features=(16,), bins=6).double()
    with torch.no_grad():
        torch.nn.init.normal_(flow.head.weight, std=0.3)
        torch.nn.init.normal_(flow.head.bias, std=0.3)
        context = torch.randn(9, 4, dtype=torch.float64)
        z = torch.randn(9, 2, dtype=torch.float64)
        fast = flow.inverse_fast(z[..., None], context)[..., 0]
        reference = flow.transform(context).inv(z)
        torch.testing.assert_close(fast, reference, rtol=1e-8, atol=1e-8)
        torch.testing.assert_close(flow.transform(context)(fast), z, rtol=1e-8, atol=1e-8)
