# sftp-hold.py HOLD MODE [SFTP-SERVER-OPTION...]: the SFTP subsystem for
# tests that need an upload stopped in its middle. A relay in front of
# OpenSSH's sftp-server: while the file HOLD exists, each WRITE request
# waits; once HOLD is removed, MODE says what the held write does:
#   pass  it goes on to the server (the upload resumes), as if slow;
#   drop  the relay exits without passing it on (the session is lost).
# Other requests pass through. Run by sshd as the SFTP user: the tests
# copy it where that user can read it.
import os
import subprocess
import sys
import time

SSH_FXP_WRITE = 6

hold, mode = sys.argv[1], sys.argv[2]
if mode not in ("pass", "drop"):
    sys.exit("sftp-hold.py: MODE is pass or drop")
server = subprocess.Popen(["/usr/lib/openssh/sftp-server"] + sys.argv[3:],
                          stdin=subprocess.PIPE)
client = sys.stdin.buffer


def read(n):
    data = b""
    while len(data) < n:
        more = client.read(n - len(data))
        if not more:
            return None
        data += more
    return data


while True:
    head = read(5)                      # uint32 length, byte type
    if head is None:
        break
    body = read(int.from_bytes(head[:4], "big") - 1)
    if body is None:
        break
    if head[4] == SSH_FXP_WRITE and os.path.exists(hold):
        while os.path.exists(hold):
            time.sleep(0.05)
        if mode == "drop":
            os._exit(1)
    server.stdin.write(head + body)
    server.stdin.flush()
server.stdin.close()
sys.exit(server.wait())
