#!/usr/bin/env python3
"""Time from starting gunicorn (gunicorn.conf.py, Redis store, Vonage and Twilio configured: both SDKs
loaded) to its first 200, five times, and the resident memory of each worker then.

usage (from the project root): .venv/bin/python bench/startup.py
"""
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from app.tokens import generate_private_key_pem

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


KEY = generate_private_key_pem().decode()


def worker_rss_mb(master: int) -> list[float]:
    """VmRSS of each child of the gunicorn master, in MB."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    sizes = []
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(int(line.split()[1]) / 1024)
    return sizes


RSS: list[float] = []


def once() -> float:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VONAGE_", "OTP_"))}
    env.update(VONAGE_API_KEY="key", VONAGE_API_SECRET="secret", OTP_STORE_URL="redis://127.0.0.1:6379/15",
               OTP_TOKEN_PRIVATE_KEY=KEY, OTP_TOKEN_ISSUER="https://otp.example.test", OTP_PROVIDER="vonage,twilio",
               TWILIO_ACCOUNT_SID="AC" + "0" * 32, TWILIO_AUTH_TOKEN="token", TWILIO_VERIFY_SERVICE_SID="VA" + "0" * 32)
    started = time.perf_counter()
    proc = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "--bind", f"127.0.0.1:{port}", "wsgi:app"], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        elapsed = time.perf_counter() - started
                        time.sleep(1)  # let every worker finish booting
                        RSS.extend(worker_rss_mb(proc.pid))
                        return elapsed
            except OSError:
                time.sleep(0.005)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)


if __name__ == "__main__":
    print("seconds to first 200:", ", ".join(f"{once():.2f}" for _ in range(5)))
    print(f"worker RSS after boot, MB: min {min(RSS):.1f}, max {max(RSS):.1f}")
