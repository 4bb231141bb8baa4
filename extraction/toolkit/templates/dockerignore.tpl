.env
var/
k8s/
**/__pycache__/
*.pyc
.seams-extract.json
