#!/usr/bin/env bash
# A real one-node SLURM cluster on this machine, for `make test-cluster` (run as root; idempotent).
#
# Installs Debian's slurm-wlm + munge when missing, writes slurm.conf for this host (its real hostname,
# CPUs and memory) with one partition `debug`, then starts munged, slurmctld and slurmd. No systemd and
# no cgroups are needed (containers have neither): proctrack/linuxproc, task/none, no accounting daemon
# (jobacct_gather/none, accounting_storage/none: `sacct` then fails, so submitit knows a job has ended from
# its result file, and dialsum asks `squeue` for the state of a job that ended without one).
#   sudo scripts/slurm/setup_single_node.sh          # set up and start (again)
#   sudo scripts/slurm/setup_single_node.sh stop     # stop the daemons
set -euo pipefail

CONF_DIR=/etc/slurm
STATE_DIR=/var/spool/slurmctld
SPOOL_DIR=/var/spool/slurmd
LOG_DIR=/var/log/slurm
RUN_DIR=/run/slurm
PARTITION=${SLURM_PARTITION:-debug}

die() { echo "setup_single_node.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (it installs packages and starts daemons)"

pid_of() {  # the daemon's pid from its pid file, if that process is alive
  local file
  case "$1" in munged) file=/run/munge/munged.pid ;; *) file=$RUN_DIR/$1.pid ;; esac
  [ -s "$file" ] && kill -0 "$(cat "$file")" 2>/dev/null && cat "$file"
}
stop_daemon() {  # SIGTERM, then wait until it is really gone (slurmctld saves its state first)
  local pid
  pid=$(pid_of "$1") || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true
}

if [ "${1:-}" = stop ]; then
  for d in slurmd slurmctld munged; do stop_daemon "$d"; done
  exit 0
fi

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

# --- munge: one key, its daemon -------------------------------------------------------------------------
mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge
chmod 0700 /etc/munge /var/lib/munge /var/log/munge
chmod 0755 /run/munge
chmod 0400 /etc/munge/munge.key
pid_of munged >/dev/null || runuser -u munge -- /usr/sbin/munged
munge -n | unmunge >/dev/null || die "munge does not work (see /var/log/munge/munged.log)"

# --- slurm.conf for this host ---------------------------------------------------------------------------
HOST=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))  # leave some for the OS
mkdir -p "$CONF_DIR" "$STATE_DIR" "$SPOOL_DIR" "$LOG_DIR" "$RUN_DIR"
cat > "$CONF_DIR/slurm.conf.new" <<CONF
# Written by dialsum scripts/slurm/setup_single_node.sh: one node, partition $PARTITION, no cgroups.
ClusterName=dialsum
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE_DIR
SlurmdSpoolDir=$SPOOL_DIR
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=300
KillWait=10
SlurmctldTimeout=30
MessageTimeout=5
SlurmdTimeout=30
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
# No cgroup.conf: Debian's 22.05 has no "CgroupPlugin=disabled" (slurmd refuses to start with it); without
# the file it loads cgroup/v1 only to read the hardware and uses no cgroup for tasks (task/none).
changed=1
if cmp -s "$CONF_DIR/slurm.conf.new" "$CONF_DIR/slurm.conf"; then changed=0; fi
mv "$CONF_DIR/slurm.conf.new" "$CONF_DIR/slurm.conf"

# --- daemons: (re)start when the config changed or they are not running ---------------------------------
if [ "$changed" = 1 ]; then
  stop_daemon slurmd
  stop_daemon slurmctld
fi
pid_of slurmctld >/dev/null || /usr/sbin/slurmctld
pid_of slurmd >/dev/null || /usr/sbin/slurmd
for _ in $(seq 1 20); do
  if timeout 5 sinfo -h -o '%T' -p "$PARTITION" 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    timeout 5 sinfo -p "$PARTITION"
    echo "SLURM is up: partition $PARTITION on $HOST ($CPUS CPUs, ${MEM_MB} MB)"
    exit 0
  fi
  timeout 5 scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true
  sleep 1
done
timeout 5 sinfo || true
die "the node did not become idle; see $LOG_DIR/slurmctld.log and $LOG_DIR/slurmd.log"
