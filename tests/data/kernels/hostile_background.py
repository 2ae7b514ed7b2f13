"""Leave a thread spinning and a forked process sleeping behind. Expected:
valid (the work is right), and nothing of it outlives the evaluation."""
import os
import threading
import time


def spin():
    while True:
        pass


threading.Thread(target=spin, daemon=True).start()
if os.fork() == 0:
    os.setsid()
    while True:
        time.sleep(1)


def custom_kernel(data):
    return trimul(data)
