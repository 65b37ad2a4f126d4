"""Faces are looked for on several media workers at once (suggestions, stills, the
simulator's asset check): that must not crash the process. One OpenCV classifier shared by
threads crashed it (a segmentation fault), so the check runs in a child process."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import threading
import cv2
from skimage import data
from bot.media.scoring import frame_features

photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
# Videos of other shapes: landscape, portrait, square, wide.
frames = [cv2.resize(photo, size) for size in ((640, 360), (360, 640), (360, 360), (1280, 360))]
found = []

def work(offset):
    for n in range(20):
        features, _ = frame_features(frames[(offset + n) % len(frames)], None)
        found.append(features.face_share > 0)

threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(len(found), sum(found))
"""


def test_faces_found_on_four_threads_at_once_do_not_crash_the_process() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    frames, with_face = map(int, done.stdout.split())
    assert frames == 80 and with_face > 0
