"""A private PostgreSQL cluster on loopback for the run-store tests: initdb in a temporary folder owned by the
`postgres` user (the server refuses to run as root), password authentication over TCP, started and stopped with
pg_ctl. Skips (with the reason) where no PostgreSQL server is installed; .ci/run installs one."""
import glob
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time


def binaries():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return os.path.dirname(found[-1]) if found else None


def free_port():
    for _ in range(200):
        port = random.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


class Cluster:
    PASSWORD = "s3cret-store-pw"

    def __init__(self, settings="-c fsync=off"):
        """`settings`: the server's extra options (tests turn fsync off; the benchmark keeps PostgreSQL's defaults)."""
        self.settings = settings
        self.bin = binaries()
        self.folder = tempfile.mkdtemp(prefix="fleetcmd-pg-")
        os.chmod(self.folder, 0o755)
        self.data = os.path.join(self.folder, "data")
        self.port = free_port()
        pwfile = os.path.join(self.folder, "pw")
        with open(pwfile, "w") as f:
            f.write(self.PASSWORD + "\n")
        shutil.chown(self.folder, "postgres", "postgres")
        shutil.chown(pwfile, "postgres", "postgres")
        self._as_postgres(os.path.join(self.bin, "initdb"), "-D", self.data, "-U", "fleet", "--pwfile", pwfile,
                          "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-sync")
        os.remove(pwfile)
        self.start()
        self.create_database("fleet")

    def _as_postgres(self, *args):
        res = subprocess.run(["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stdout + res.stderr
        return res

    def start(self):
        self._as_postgres(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-w", "-t", "60", "-l",
                          os.path.join(self.folder, "log"), "-o",
                          f"-h 127.0.0.1 -p {self.port} -k {self.folder} {self.settings} -c max_connections=200", "start")

    def stop(self, mode="fast"):
        self._as_postgres(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-w", "-t", "60", "-m", mode, "stop")

    def use_tls(self, certificate, key):
        """Serves TLS only (hostssl, with this certificate and key) from the next start; None and None: plain again.
        The server reads the key only when it belongs to its user and no one else can read it."""
        hba = os.path.join(self.data, "pg_hba.conf")
        with open(hba) as f:
            lines = [line for line in f.read().splitlines() if not line.startswith(("host ", "hostssl "))]
        conf = os.path.join(self.data, "fleetcmd-tls.conf")
        if certificate:
            for source, target in ((certificate, "tls.pem"), (key, "tls.key")):
                shutil.copy(source, os.path.join(self.data, target))
                shutil.chown(os.path.join(self.data, target), "postgres", "postgres")
                os.chmod(os.path.join(self.data, target), 0o600)
            lines += ["hostssl all all 127.0.0.1/32 scram-sha-256"]
            settings = "ssl = on\nssl_cert_file = 'tls.pem'\nssl_key_file = 'tls.key'\n"
        else:
            lines += ["host all all 127.0.0.1/32 scram-sha-256", "host all all ::1/128 scram-sha-256"]
            settings = "ssl = off\n"
        with open(hba, "w") as f:
            f.write("\n".join(lines) + "\n")
        with open(conf, "w") as f:
            f.write(settings)
        shutil.chown(conf, "postgres", "postgres")
        postgresql_conf = os.path.join(self.data, "postgresql.conf")
        with open(postgresql_conf) as f:
            text = f.read()
        if "include_if_exists = 'fleetcmd-tls.conf'" not in text:
            with open(postgresql_conf, "a") as f:
                f.write("\ninclude_if_exists = 'fleetcmd-tls.conf'\n")
        self.stop("fast")
        self.start()

    def url(self, database="fleet", password=True):
        secret = f":{self.PASSWORD}" if password else ""
        return f"postgres://fleet{secret}@127.0.0.1:{self.port}/{database}?sslmode=disable"

    def psql(self, sql, database="fleet"):
        res = subprocess.run([os.path.join(self.bin, "psql"), "-h", self.folder, "-p", str(self.port), "-U", "fleet",
                              "-d", database, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                             capture_output=True, text=True, timeout=60, user="postgres")
        assert res.returncode == 0, res.stderr
        return res.stdout.strip()

    def create_database(self, name):
        self.psql(f"CREATE DATABASE {name}", database="postgres")

    def cpu_seconds(self):
        """CPU seconds the server has used so far: the postmaster, the children it has reaped, the live ones."""
        ticks = os.sysconf("SC_CLK_TCK")
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            postmaster = int(f.readline())
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid, ppid = int(entry), int(fields[1])
            if pid == postmaster:
                total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
            elif ppid == postmaster:
                total += int(fields[11]) + int(fields[12])
        return total / ticks

    def log(self):
        with open(os.path.join(self.folder, "log")) as f:
            return f.read()

    def close(self):
        try:
            self.stop("immediate")
        except AssertionError:
            pass
        shutil.rmtree(self.folder, ignore_errors=True)
