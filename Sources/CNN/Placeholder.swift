enum CNNPlaceholder {}
