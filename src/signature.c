/* signature: being written */
