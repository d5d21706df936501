#!/usr/bin/env python3
"""Score the WAVs written by the voice_bench example with PESQ wide-band.

    python3 -m venv /tmp/pesq-venv && /tmp/pesq-venv/bin/pip install pesq numpy scipy
    /tmp/pesq-venv/bin/python core/voice/examples/pesq_score.py target/voice-bench

Every file is 16 kHz mono; PESQ (ITU-T P.862.2) aligns delay itself.
"""
import sys
import wave
from pathlib import Path

import numpy as np
from pesq import pesq


def read(path):
    with wave.open(str(path), "rb") as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32)


def main():
    d = Path(sys.argv[1] if len(sys.argv) > 1 else "target/voice-bench")
    ref = read(d / "reference.wav")
    print(f"{'run':<44} {'PESQ-WB':>8} {'kbit/s':>8}")
    for line in (d / "manifest.tsv").read_text().splitlines():
        name, label, kbps = line.split("\t")
        deg = read(d / name)
        n = min(len(ref), len(deg))
        score = pesq(16000, ref[:n], deg[:n], "wb")
        print(f"{label:<44} {score:8.2f} {kbps:>8}")


if __name__ == "__main__":
    main()
