# Helper kept next to the cluster definitions. Its name does not start with
# "cluster", so it is not a cluster definition and must not be loaded.
import os

def getCluster():
  raise Exception("helper.py must never be evaluated")

def mac_for(index):
  return '52:54:00:77:00:%02x' % index
