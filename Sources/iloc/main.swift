import Runtime
print("iloc")
