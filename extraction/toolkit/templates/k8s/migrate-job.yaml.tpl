# Creates the schema and applies the {{ label }} migrations (a no-op when the monolith already did).
# Run it before the first rollout and after each release that adds a migration.
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ service }}-migrate
  labels:
    app.kubernetes.io/name: {{ service }}
    app.kubernetes.io/component: migrate
spec:
  backoffLimit: 3
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{ service }}
        app.kubernetes.io/component: migrate
    spec:
      restartPolicy: OnFailure
      containers:
        - name: migrate
          image: {{ image }}
          command: ["python", "manage.py", "migrate_modules"]
          env:
{{ env_yaml_container }}
