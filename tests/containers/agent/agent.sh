echo "agent $HYDRACORE_INSTANCE_ID starting"
echo "config $HYDRACORE_INSTANCE_CONFIG"
case "$HYDRACORE_INSTANCE_CONFIG" in
  *exit*) echo "told to fail"; exit 1 ;;
esac
trap 'echo "agent stopping"; exit 0' TERM
while true; do /bin/busybox sleep 1; done
