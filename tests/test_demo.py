import matplotlib

matplotlib.use("Agg")

from dynamics import demo

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_demo_fast_writes_png(tmp_path, capsys):
    out = tmp_path / "figures" / "demo.png"
    path = demo.main(["--fast", "--out", str(out)])
    assert path == out.resolve()
    data = out.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert data[12:16] == b"IHDR"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 500 and height > 200
    printed = capsys.readouterr().out
    assert "Kerr oscillator" in printed
    assert "Rabi experiments" in printed
    assert str(out.resolve()) in printed
