-- Daily partitions of samples (UTC days), named samples_pYYYYMMDD. Retention drops whole partitions,
-- which is instant, instead of deleting rows.
CREATE OR REPLACE FUNCTION rightsize_ensure_partition(day date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  name text := 'samples_p' || to_char(day, 'YYYYMMDD');
BEGIN
  IF to_regclass(name) IS NOT NULL THEN
    RETURN false;
  END IF;
  EXECUTE format(
    'CREATE TABLE IF NOT EXISTS %I PARTITION OF samples FOR VALUES FROM (%L) TO (%L)',
    name,
    (day::timestamp AT TIME ZONE 'UTC'),
    ((day + 1)::timestamp AT TIME ZONE 'UTC')
  );
  RETURN true;
END;
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION rightsize_maintain_partitions(retention_days integer, ahead_days integer)
RETURNS TABLE (action text, partition_name text)
LANGUAGE plpgsql AS $$
DECLARE
  today date := (now() AT TIME ZONE 'UTC')::date;
  day date;
  child record;
BEGIN
  -- Yesterday too: a collector whose clock or batch straddles midnight writes into it.
  FOR day IN SELECT generate_series(today - 1, today + ahead_days, interval '1 day')::date LOOP
    IF rightsize_ensure_partition(day) THEN
      action := 'created';
      partition_name := 'samples_p' || to_char(day, 'YYYYMMDD');
      RETURN NEXT;
    END IF;
  END LOOP;
  FOR child IN
    SELECT c.relname FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'samples'::regclass AND c.relname ~ '^samples_p[0-9]{8}$'
  LOOP
    IF to_date(substr(child.relname, 10), 'YYYYMMDD') < today - retention_days THEN
      EXECUTE format('DROP TABLE %I', child.relname);
      action := 'dropped';
      partition_name := child.relname;
      RETURN NEXT;
    END IF;
  END LOOP;
END;
$$;
