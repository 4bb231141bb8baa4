# In the cluster the monolith reaches the {{ label }} service at http://{{ service }}:{{ port }}.
apiVersion: v1
kind: Service
metadata:
  name: {{ service }}
  labels:
    app.kubernetes.io/name: {{ service }}
spec:
  selector:
    app.kubernetes.io/name: {{ service }}
    app.kubernetes.io/component: web
  ports:
    - name: http
      port: {{ port }}
      targetPort: http
