CREATE TABLE "host_samples" (
	"host_id" text NOT NULL,
	"ts" timestamp with time zone NOT NULL,
	"interval_seconds" real NOT NULL,
	"cpu_busy_cores" real,
	"cpu_iowait_cores" real,
	"cpu_steal_cores" real,
	"disk_busy_share" real,
	"disk_read_bytes" bigint,
	"disk_write_bytes" bigint,
	"psi_cpu_some" real,
	"psi_memory_some" real,
	"psi_io_some" real,
	"load1" real,
	CONSTRAINT "host_samples_host_id_ts_pk" PRIMARY KEY("host_id","ts")
);
