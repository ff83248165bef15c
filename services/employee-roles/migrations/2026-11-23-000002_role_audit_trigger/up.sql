-- Role changes audit themselves: every INSERT and UPDATE of employee_roles writes its audit_log row
-- in the same statement (so in the same transaction), with the row's own inserted_by/updated_by as
-- the actor. A create or a deactivation is then one statement, one round trip.
CREATE FUNCTION employee_roles_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO audit_log (actor_id, table_name, record_id, action, changes)
    VALUES (NEW.inserted_by, 'employee_roles', NEW.id, 'INSERT', to_jsonb(NEW) - 'legal_entity_id');
  ELSE
    -- Changed columns as [old, new]; who and when are the audit row's own.
    INSERT INTO audit_log (actor_id, table_name, record_id, action, changes)
    SELECT NEW.updated_by, 'employee_roles', NEW.id, 'UPDATE',
           coalesce(jsonb_object_agg(n.key, jsonb_build_array(o.value, n.value)), '{}'::jsonb)
      FROM jsonb_each(to_jsonb(NEW)) AS n
      JOIN jsonb_each(to_jsonb(OLD)) AS o USING (key)
     WHERE n.value IS DISTINCT FROM o.value AND n.key NOT IN ('updated_at', 'updated_by');
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER employee_roles_audit AFTER INSERT OR UPDATE ON employee_roles
  FOR EACH ROW EXECUTE FUNCTION employee_roles_audit();
