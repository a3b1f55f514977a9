# shellcheck shell=bash
# A one-node Slurm cluster on this machine, for tests: sourced by
# tests/cluster/run.sh (or by hand: `source tests/cluster/cluster.sh;
# cluster_start /tmp/c; sinfo; cluster_stop`).
#
# cluster_start DIR writes DIR/slurm.conf for this host (its real CPUs and
# memory, as `slurmd -C` reports them), starts munged with its own key and
# socket, slurmctld and slurmd, all state, logs and sockets under DIR, on free
# TCP ports of the loopback address; exports SLURM_CONF so that sbatch, squeue
# and scontrol talk to this cluster; and waits until the node is idle.
# Nothing outside DIR is written and no system daemon is touched, so it runs
# beside a real munged or slurmd.  cluster_stop cancels what is left in the
# queue and ends the three daemons it started, by their pids.
#
# Plain processes, no cgroups: proctrack/linuxproc, task/none, no accounting.
# slurmd must run as root (it starts jobs as their users).

CLUSTER_DIR=

# free_port: a TCP port nothing listens on now (the kernel's choice).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# cluster_start DIR: returns 0 once the node is idle, 1 (with the logs'
# tails on stderr) if a daemon does not come up within a minute.
cluster_start() {
    local dir=$1 host node ctld_port slurmd_port
    CLUSTER_DIR=$dir
    mkdir -p "$dir"/munge "$dir"/ctld "$dir"/spool
    chmod 700 "$dir" "$dir"/munge
    host=$(hostname -s)
    # slurmd -C prints this host's NodeName=... CPUs=... RealMemory=... line
    # (its name as slurmd sees it; the short hostname is what slurmd -N gives).
    node=$(slurmd -C | sed -n 1p | sed "s/^NodeName=[^ ]*/NodeName=$host/")
    ctld_port=$(free_port)
    slurmd_port=$(free_port)
    while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port=$(free_port); done

    # munge: a fresh key, readable by its owner only (munged checks).
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$dir/munge/munge.key"
    munged --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
           --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
           --seed-file="$dir/munge/munged.seed" --force \
        || { cluster_logs >&2; return 1; }

    cat > "$dir/slurm.conf" <<CONF
# Written by tests/cluster/cluster.sh for a one-node test cluster.
ClusterName=eddytest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=$(id -un)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
# A job whose dependency can never be met (a shard failed) is cancelled
# instead of pending forever.
DependencyParameters=kill_invalid_depend
MinJobAge=600
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    export SLURM_CONF=$dir/slurm.conf
    slurmctld -f "$SLURM_CONF" || { cluster_logs >&2; return 1; }
    slurmd -f "$SLURM_CONF" -N "$host" || { cluster_logs >&2; return 1; }

    local state
    for _ in $(seq 1 120); do
        state=$(sinfo -h -N -o %t 2>/dev/null | sed -n 1p)
        [ "$state" = idle ] && return 0
        sleep 0.5
    done
    echo "cluster_start: the node is '${state:-not listed}' after 60 s" >&2
    cluster_logs >&2
    return 1
}

# cluster_logs: the tails of the daemons' logs (for a failing test).
cluster_logs() {
    local f
    for f in "$CLUSTER_DIR"/munge/munged.log "$CLUSTER_DIR"/slurmctld.log "$CLUSTER_DIR"/slurmd.log; do
        [ -f "$f" ] && { echo "== $f"; tail -n 15 "$f"; }
    done
}

# cluster_stop: ends slurmd, slurmctld and munged (the ones cluster_start
# started, by pid), waiting up to 10 s for each.
cluster_stop() {
    local p pid
    [ -n "$CLUSTER_DIR" ] || return 0
    # Jobs a failed test left behind end first (their steps are children of slurmd).
    squeue -h -o %A 2>/dev/null | xargs -r scancel 2>/dev/null
    for p in slurmd.pid slurmctld.pid munge/munged.pid; do
        [ -f "$CLUSTER_DIR/$p" ] || continue
        pid=$(cat "$CLUSTER_DIR/$p")
        [ -n "$pid" ] || continue
        kill "$pid" 2>/dev/null || continue
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    done
    CLUSTER_DIR=
}
