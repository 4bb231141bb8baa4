# The {{ service }}: web (gunicorn, the image's CMD), worker (Celery: events for {{ label }} and
# its contract calls over Celery) and beat (the outbox relay; exactly one replica).
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ service }}-web
  labels:
    app.kubernetes.io/name: {{ service }}
    app.kubernetes.io/component: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ service }}
      app.kubernetes.io/component: web
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{ service }}
        app.kubernetes.io/component: web
    spec:
      containers:
        - name: web
          image: {{ image }}
          ports:
            - name: http
              containerPort: {{ port }}
          env:
{{ env_yaml_container }}
          livenessProbe:
            httpGet:
              path: /health/live
              port: http
              httpHeaders:
                - name: Host
                  value: localhost
            initialDelaySeconds: 5
            periodSeconds: 10
          readinessProbe:
            # scope=local: its own databases and broker only. Bound services and Celery workers
            # never change the status code (they make it "degraded", 200), and asking the workers
            # waits SEAMS_HEALTH_WORKER_WAIT: the probe keeps to what decides it, within its timeout.
            httpGet:
              path: /health/ready?scope=local
              port: http
              httpHeaders:
                - name: Host
                  value: localhost
            periodSeconds: 5
            timeoutSeconds: 3
            failureThreshold: 3
          resources:
            requests:
              cpu: 250m
              memory: 256Mi
            limits:
              memory: 512Mi
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ service }}-worker
  labels:
    app.kubernetes.io/name: {{ service }}
    app.kubernetes.io/component: worker
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ service }}
      app.kubernetes.io/component: worker
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{ service }}
        app.kubernetes.io/component: worker
    spec:
      containers:
        - name: worker
          image: {{ image }}
          command: {{ worker_command_yaml }}
          env:
{{ env_yaml_container }}
          resources:
            requests:
              cpu: 250m
              memory: 256Mi
            limits:
              memory: 512Mi
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ service }}-beat
  labels:
    app.kubernetes.io/name: {{ service }}
    app.kubernetes.io/component: beat
spec:
  replicas: 1
  strategy:
    type: Recreate
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ service }}
      app.kubernetes.io/component: beat
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{ service }}
        app.kubernetes.io/component: beat
    spec:
      containers:
        - name: beat
          image: {{ image }}
          command: ["celery", "-A", "service", "beat", "--loglevel", "INFO", "--schedule", "/tmp/celerybeat-schedule"]
          env:
{{ env_yaml_container }}
          resources:
            requests:
              cpu: 50m
              memory: 128Mi
