package control

// StartFauxqs starts fauxqs for the tests of package control_test.
var StartFauxqs = startFauxqs
