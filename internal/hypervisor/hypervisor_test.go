package hypervisor

import "testing"

func TestMachineCapacity(t *testing.T) {
	c, err := MachineCapacity()
	if err != nil {
		t.Fatal(err)
	}
	if c.MemoryKiB <= 0 || c.FreeMemoryKiB <= 0 || c.FreeMemoryKiB > c.MemoryKiB || c.CPUs <= 0 {
		t.Errorf("capacity %+v", c)
	}
}
