@_exported import RNNFormat
