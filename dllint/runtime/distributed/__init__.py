"""Tracing a distributed run: every rank of a torchrun job runs the instruments, publishes what it
saw to the job's store, and one report is merged from all ranks.

- `job`: which rank this process is, and the store the ranks and the launcher share;
- `rank`: the hooks a rank adds to the single-process instruments, and its watchdog;
- `merge`: the cross-rank checks (RT011-RT015) and the merged findings;
- `launcher`: `dllint trace --nproc N`, run on `torch.distributed.run`;
- `render`: the merged report as text and JSON.
"""
