#!/usr/bin/env bash
# A real one-node Slurm (Debian's slurmctld, slurmd, munge) without systemd, for the sweep's
# job-array test: `start` installs what is missing, writes /etc/slurm/slurm.conf for this host,
# starts munged, slurmctld and slurmd, and waits for the node to be idle; `stop` stops them by
# pid. Run as root. After the recipe in ../shared/research/slurm_single_node.sh.
set -euo pipefail

start() {
  export DEBIAN_FRONTEND=noninteractive
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
  fi
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile=/etc/munge/munge.key --force
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 600 /etc/munge/munge.key
  install -d -o munge -g munge -m 0755 /run/munge
  install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
  if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged
  fi
  munge -n | unmunge >/dev/null

  local host mem ncpu
  host=$(hostname -s)
  mem=$(free -m | awk '/^Mem:/{print $2}')
  ncpu=$(nproc)
  install -d -o slurm -g slurm -m 0755 /var/spool/slurmctld /var/log/slurm
  install -d -o root -g root -m 0755 /var/spool/slurmd /etc/slurm
  cat > /etc/slurm/slurm.conf <<CONF
ClusterName=memscape
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MailProg=/bin/true
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${ncpu} RealMemory=${mem} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  [ -f /run/slurmctld.pid ] && kill -0 "$(cat /run/slurmctld.pid)" 2>/dev/null || /usr/sbin/slurmctld
  [ -f /run/slurmd.pid ] && kill -0 "$(cat /run/slurmd.pid)" 2>/dev/null || /usr/sbin/slurmd
  for _ in $(seq 60); do
    sinfo -h -N -o '%T' 2>/dev/null | grep -qx idle && { sinfo; return 0; }
    sleep 1
  done
  echo "slurm-local: the node did not become idle in 60 s" >&2
  tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
  return 1
}

stop() {
  for f in /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || continue
    while kill -0 "$pid" 2>/dev/null; do sleep 0.5; done
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
