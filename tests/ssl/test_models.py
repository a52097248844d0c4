import torch
from torch import nn

from pbfidelity.ssl.config import EncoderConfig
from pbfidelity.ssl.models import ByolModel, Classifier, Encoder, ScarfModel, VimeModel

CFG = EncoderConfig(hidden=(32, 16), embedding=8, dropout=0.1, projection=6)


def test_encoder_blocks_and_shapes():
    enc = Encoder(20, CFG)
    block = enc.net[0]
    assert [type(m) for m in block] == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Dropout]
    assert len(enc.net) == 3  # two blocks + output layer
    x = torch.randn(5, 20)
    assert enc(x).shape == (5, 8)
    assert ScarfModel(20, CFG)(x).shape == (5, 6)
    m, r = VimeModel(20, CFG)(x)
    assert m.shape == r.shape == (5, 20)
    assert Classifier(enc, 3)(x).shape == (5, 3)


def test_byol_target_is_an_ema_of_the_online_network():
    torch.manual_seed(0)
    model = ByolModel(20, CFG)
    assert all(not p.requires_grad for p in model.target_parameters())
    with torch.no_grad():  # move the online network away from the target
        for p in model.online_parameters():
            p.add_(torch.randn_like(p))
    old_target = [t.clone() for t in model.target_parameters()]
    online = [o.clone() for o in model.online_parameters()]
    model.update_target(0.9)
    for t, t0, o in zip(model.target_parameters(), old_target, online, strict=True):
        assert torch.allclose(t, 0.9 * t0 + 0.1 * o, atol=1e-6)
    model.update_target(0.0)  # decay 0 copies the online network
    for t, o in zip(model.target_parameters(), model.online_parameters(), strict=True):
        assert torch.equal(t, o)
